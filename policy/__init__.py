"""The project's CrossGuard policy pack (run by `pulumi preview|up --policy-pack policy`).

Pulumi runs ``__main__.py`` in the pack's own venv (``policy/venv``). ``invariants`` is pure Python and
imports nothing from pulumi-policy, so the project's tests import it as ``policy.invariants``.
"""
