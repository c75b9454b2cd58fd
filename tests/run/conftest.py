from tests.core.conftest import plugin_dir  # noqa: F401  (the fixture, shared)
