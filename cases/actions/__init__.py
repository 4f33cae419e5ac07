"""Agent, customer and partner actions: the registry that says everything about each action
(`registry`), what each one does (`handlers`, `conversation`, `review`), who may send it
(`roles`), how its event reads to the customer (`labels`) and is read back from the trail
(`trail`), and how a raw payload becomes its model (`parsing`)."""
