"""Bill.com <-> QuickBooks Online sync engine: pure Python, no Odoo import.

Inside the Odoo add-on it is imported relatively (``from ..sync_engine import
planner``); standalone it is the top-level package ``sync_engine``.
"""
