"""SIGKILL a writer mid-write: the file is always the complete old or new archive. Readers racing a writer
always see one consistent state."""
import pytest

from . import crashsim

pytestmark = pytest.mark.filterwarnings("ignore:.*format version 1 cannot store")  # v1 states on purpose


@pytest.mark.parametrize("kind,version,kills", [("archive", 2, 24), ("archive", 1, 8), ("mask", 2, 8)])
@pytest.mark.slow
def test_sigkill_writer_leaves_old_or_new(tmp_path, kind, version, kills):
    stats = crashsim.crash_loop(str(tmp_path), kind, version, kills, seed=kills + version)
    print(stats)
    assert stats["kills"] == kills


def test_readers_see_consistent_states_while_writer_replaces(tmp_path):
    stats = crashsim.race(str(tmp_path), readers=2, seconds=3.0)
    print(stats)
    assert stats["inconsistent"] == 0
    assert stats["reads"] > 20 and len(stats["states_seen"]) >= 3
