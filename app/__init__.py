"""The composition root: settings in, a running bot out (app factory, HTTP server, CLI, demo wiring).

Nothing imports this package; it imports the domain (``bot``), the Slack edge (``handlers``), the
agent client (``ops.client``) and, for the demo only, the sandbox.
"""
