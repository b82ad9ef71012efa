"""Deterministic simulation of the surge/lease protocol (issue 16 item 5).

The engine (``runner.rebalance``) runs against the in-process sandbox on its manual clock.
Every AWS call it makes goes through a proxy and is a numbered *call point*; a *schedule*
puts one fault at one call point (a kill, a second run, someone else's desiredCount, a
delayed, lost or duplicated lease write, deleted tags, a skewed clock, failing health checks,
the run's deadline). Small scenarios are explored exhaustively over call points x fault
kinds, large ones at random by seed; invariants are checked at every reconcile pass of the
sandbox and at the end. ``make simulate`` runs it (see README "Deterministic simulation").

Modules: ``calls`` (the proxy, call points, the fault kinds), ``worlds`` (the scenarios),
``invariants`` (what must hold), ``explore`` (schedules, running one, the command line).
"""
