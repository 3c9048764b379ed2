import pytest

from tests.export.helpers import exported_tiny


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_lip_sync_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory, options=True)


@pytest.fixture(params=["tiny", "tiny_lip_sync"])
def each_export(request):
    """Both exports in turn: the paper's layers, and the lip-sync options of the shipped model."""
    fixture = "tiny_export" if request.param == "tiny" else "tiny_lip_sync_export"
    return request.getfixturevalue(fixture)
