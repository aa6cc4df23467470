"""The agent as a real process is the way out of a broken main.db: it starts without one, status
says what is wrong, restore replaces a missing, zero-byte or garbage DB (keeping the broken file),
and recover_journal replays a real hot journal, all over the signed API."""

from __future__ import annotations

from pathlib import Path

from ops.client import AgentClient
from sandbox.gofastcdn_fixture import build_migrated_deployment
from tests.e2e.test_agent_harness import SECRET, start_agent
from tests.unit.ops.test_recover_journal import die_mid_transaction


def test_agent_restores_over_missing_zero_byte_and_garbage_db(tmp_path: Path) -> None:
    info = build_migrated_deployment(tmp_path / "dep")
    dep = info.deployment
    backup = str(info.pre_migration_backup)
    dep.db_path.unlink()
    agent = start_agent(info.root, tmp_path / "agent.log")  # starts although main.db is missing
    try:
        c = AgentClient(agent.url, SECRET, "e2e-bot", timeout_s=5, retries=1)
        st = c.run("status", {}, "st-1", poll_s=0.05, deadline_s=30)
        assert st.outcome == "failed" and st.result is not None and st.result["db_state"] == "missing"
        kept: list[str] = []
        for n, (how, content) in enumerate([("missing", None), ("zero-bytes", b""), ("not-sqlite", b"junk\n" * 99)]):
            if content is not None:
                dep.db_path.write_bytes(content)
            job = c.run("restore", {"backup": backup}, f"restore-{n}", poll_s=0.05, deadline_s=60)
            assert job.outcome == "ok", job
            assert job.result is not None and job.result["db_state_before"] == how
            if content is not None:
                folder = Path(job.result["quarantine"]["folder"])
                assert (folder / "main.db").read_bytes() == content
                kept.append(folder.name)
        assert len(kept) == 2 and all(k.startswith("main.db-") for k in kept)
        die_mid_transaction(dep.db_path)
        st = c.run("status", {}, "st-2", poll_s=0.05, deadline_s=30)
        assert st.result is not None and st.result["hot_journal"] is True
        rec = c.run("recover_journal", {}, "rec-1", poll_s=0.05, deadline_s=60)
        assert rec.outcome == "ok" and rec.result is not None and rec.result["integrity_after"] == "ok"
        st = c.run("status", {}, "st-3", poll_s=0.05, deadline_s=30)
        assert st.outcome == "ok" and st.result is not None and st.result["hot_journal"] is False
    finally:
        agent.stop()
