"""The Slack sandbox page: a browser client over the fake workspace, served by the fake Slack itself.

`PageBackend` acts as Slack towards the bot (signed requests built from what the bot posted),
`PageRoutes` mounts it on the fake's HTTP server, `host_faults` breaks sandbox hosts for real.
"""
