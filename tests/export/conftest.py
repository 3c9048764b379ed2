import pytest

from tests.export.helpers import exported_lip_sync_tiny, exported_tiny


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_lip_sync_export(tmp_path_factory):
    return exported_lip_sync_tiny(tmp_path_factory)
