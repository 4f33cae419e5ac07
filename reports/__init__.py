"""Figures about past cases, computed once and rendered as text, JSON or HTML.

Two features, each a subpackage: `service`, the quarterly service report read from the
PostgreSQL projection (`aftersales report`), and `whatif`, the replay of past cases under a
candidate policy (`aftersales whatif`), which borrows the report's period, database and rendering.
"""
