"""Pricing: cost formulas, the Setting (network, hardware, phase) with the one latency model, and the protocol
families as plug-ins (family.py: the interface; registry.py: the families and loading tables; mpc.py; ckks/)."""
