"""The incident record: what happened, read back the morning after (model, builder, renderers, versions).

Nothing here knows about Slack. The thread's messages arrive as :class:`SlackThreadMessage` models that
the Slack edge (handlers/thread_history.py) fetched; everything else is read from the store.
"""
