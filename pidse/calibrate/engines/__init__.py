"""Real engines that measure per-op costs for pidse's cost tables (optional extras; imported lazily).

  spu   SecretFlow SPU (`pip install -e '.[spu]'`): 2PC CHEETAH, 2PC SEMI2K, 3PC ABY3; see pidse.calibrate.engines.spu
"""
