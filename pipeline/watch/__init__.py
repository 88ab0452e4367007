"""Watching the cycle from outside: the record of how every cycle ended (``ledger``), the rule
/health applies to it (``health``), what a cycle's records mean for the people watching
(``events``: its outcome, the alerts it raises), and the alerts themselves (``alerts``: which
conditions are open, what is still to deliver; ``deliver``: a webhook and e-mail), and their
small files rewritten whole under a lock (``files``).

Standard library only: the cron cycle records and alerts with it before it knows whether there
is work, and the quick path imports ``ledger``. May import ``pipeline.core`` only; the cycle,
the API and the pages use it.
"""
