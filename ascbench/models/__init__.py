"""Network families that more than one plugin builds on.

A module here holds the layers and the configurable network class of one family; each plugin
keeps its own defaults and registers its own factory (``register_models``), so a name on the
leaderboard still belongs to the plugin that reproduces the system.

=================  =====================================================================
module             family
=================  =====================================================================
``cp_mobile``      CP-Mobile (CP-JKU): GRN inverted-bottleneck CNN of DCASE 2023 and the
                   DCASE 2024/2025 baseline, which is the same network without GRN
=================  =====================================================================

This package imports no torch; import the family's module itself.
"""
