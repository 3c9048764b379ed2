import pytest

from tests.export.helpers import exported_tiny


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_lip_sync_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory, options=True)
