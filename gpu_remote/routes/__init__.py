"""The worker's HTTP routes, one APIRouter per concern, assembled by ``gpu_remote.server.create_app``.

Every router reads the serving :class:`~gpu_remote.server.Worker` from ``app.state.worker``
(:func:`gpu_remote.routes.deps.worker_of`); the bearer token, body limits and error mapping are the
app's, set once in ``create_app``.
"""
