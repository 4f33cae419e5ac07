"""Agent, customer and partner actions: the registry that says everything about each action
(`registry`), what each one does (`handlers`, `conversation`, `review`), who may send it
(`roles`), and how a raw payload becomes its model (`parsing`)."""
