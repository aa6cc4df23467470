"""Agent results on Slack.

messages.py       the running message and the result message of a job
headlines.py      the result's first line, one entry per outcome (HEADLINES)
presenters.py     the facts of each operation's result, one entry per operation (PRESENTERS)
backup_picker.py  the backup menu
formatting.py     escaping, clipping and line-budgeted text shared by the above
"""

from handlers.results.backup_picker import backup_select, selectable_backups, unselectable_backups
from handlers.results.headlines import HEADLINES
from handlers.results.messages import job_result_message, job_running_message
from handlers.results.presenters import PRESENTERS

__all__ = [
    "HEADLINES",
    "PRESENTERS",
    "backup_select",
    "job_result_message",
    "job_running_message",
    "selectable_backups",
    "unselectable_backups",
]
