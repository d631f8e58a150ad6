"""The crash harness's short version (make crashtest runs 30 kills): SIGKILL a real training run three times,
at a display line and inside snapshot writes; each time the newest snapshot loads and resumes."""
from __future__ import annotations

from .crash_harness import crash_and_resume


def test_sigkill_at_any_moment_leaves_a_loadable_resumable_newest_snapshot(tmp_path):
    report = crash_and_resume(tmp_path, kills=3, seed=4)
    assert len(report.kills) == 3 and report.final_iter > 0
