"""Worker Versioning: which build a worker is (`build`), and the deployment's builds on the server
(`server`): making one current, and how many open cases each still holds."""
