import pytest

from . import hostile


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    """label -> (path, bytes, digest) of valid files of both versions, plus the 0.1.3 compat files."""
    d = tmp_path_factory.mktemp("samples")
    out = {}
    for label, path in hostile.make_samples(str(d)).items():
        out[label] = (path, open(path, "rb").read(), hostile.outcome(path)[1])
    for path in hostile.compat_files():
        out["compat " + path.rsplit("/", 1)[1]] = (path, open(path, "rb").read(), hostile.outcome(path)[1])
    return out
