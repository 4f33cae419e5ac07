"""`aftersales codec-server`: the remote codec endpoint the Temporal Web UI and CLI call.

Case payloads are encrypted by `workflows.codec.EncryptionCodec` before they reach Temporal, so
the Web UI, on its own, shows only ciphertext. This server holds the keys and answers the remote
codec protocol: `POST …/decode` and `POST …/encode`, with a JSON body `{"payloads": [...]}` in
the protobuf JSON form of `temporal.api.common.v1.Payloads`, answered in the same shape. Only the
last path segment selects the operation, so it can be mounted under any prefix (for example
`/{namespace}/decode`). The operator's browser calls it directly, so it answers CORS for the
configured UI origins only, and every encode or decode needs the token, as
`Authorization: Bearer <token>` (CLI, scripts) or as the first path segment (the Web UI, whose
data encoder setting is a URL): whoever can call it can read customers' personal data. It is built
on the standard library (`http.server`), so it adds no dependency to the image.

The package is split by job: `config` reads and checks the environment, `http` is the request
handler and server class, `command` builds the server and runs it as the CLI subcommand.
"""
