"""files v2, pins, reactions, users, usergroups and views through slack_sdk."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.fake_slack import FakeSlack
from tests.unit.sandbox.helpers import ALICE, OPS

MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Confirm"}, "blocks": []}


def test_files_upload_v2_end_to_end(client: WebClient, fake: FakeSlack) -> None:
    parent = client.chat_postMessage(channel=OPS, text="incident")["ts"]
    out = client.files_upload_v2(
        channel=OPS,
        thread_ts=parent,
        content="line 1\nline 2\n",
        filename="export.md",
        title="Export",
        initial_comment="thread export",
    )
    assert out["file"]["name"] == "export.md"
    [upload] = fake.files()
    assert (upload.content, upload.completed, upload.thread_ts) == (b"line 1\nline 2\n", True, parent)
    share = fake.thread(OPS, parent)[-1]
    assert (share.subtype, share.text, share.files[0]["id"]) == ("file_share", "thread export", upload.id)
    assert fake.methods_called()[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


def test_complete_without_upload_fails(client: WebClient) -> None:
    file_id = client.files_getUploadURLExternal(filename="a.txt", length=3)["file_id"]
    with pytest.raises(SlackApiError) as err:
        client.files_completeUploadExternal(files=[{"id": file_id, "title": "a"}], channel_id=OPS)
    assert err.value.response["error"] == "file_not_found"


def test_pins_and_reactions(client: WebClient, fake: FakeSlack) -> None:
    ts = client.chat_postMessage(channel=OPS, text="pin me")["ts"]
    client.pins_add(channel=OPS, timestamp=ts)
    client.reactions_add(channel=OPS, timestamp=ts, name="white_check_mark")
    assert fake.pins(OPS) == [ts]
    assert fake.reactions(OPS, ts) == {"white_check_mark": ["UBOT"]}
    for call, error in [
        (lambda: client.pins_add(channel=OPS, timestamp=ts), "already_pinned"),
        (lambda: client.reactions_add(channel=OPS, timestamp=ts, name="white_check_mark"), "already_reacted"),
        (lambda: client.reactions_add(channel=OPS, timestamp="1.000001", name="x"), "message_not_found"),
    ]:
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] == error


def test_users_usergroups_and_channel_info(client: WebClient) -> None:
    user = client.users_info(user=ALICE)["user"]
    assert (user["name"], user["real_name"], user["tz"]) == ("alice", "Alice Admin", "UTC")
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0ALICE", "U0CAROL"]
    info = client.conversations_info(channel=OPS)["channel"]
    assert (info["name"], info["is_member"]) == ("ops-incidents", True)
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"


def test_views_open_update_push(client: WebClient, fake: FakeSlack) -> None:
    view = client.views_open(trigger_id=fake.new_trigger_id(), view=MODAL)["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view={**MODAL, "callback_id": "c2"})
    assert updated["view"]["callback_id"] == "c2"
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)  # stale hash
    assert err.value.response["error"] == "hash_conflict"
    pushed = client.views_push(trigger_id=fake.new_trigger_id(), view=MODAL)["view"]
    assert pushed["previous_view_id"] == view["id"] and len(fake.views()) == 2


def test_strict_triggers_expire(client: WebClient, fake: FakeSlack) -> None:
    fake.set_strict_triggers()
    with pytest.raises(SlackApiError) as unknown:
        client.views_open(trigger_id="123.456.abc", view=MODAL)
    assert unknown.value.response["error"] == "invalid_trigger_id"
    trigger = fake.new_trigger_id()
    fake.ws.triggers[trigger] = time.monotonic() - 4  # issued 4 s ago: past the 3 s lifetime
    with pytest.raises(SlackApiError) as expired:
        client.views_open(trigger_id=trigger, view=MODAL)
    assert expired.value.response["error"] == "expired_trigger_id"
