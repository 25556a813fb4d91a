"""counterram: a counter-rocket, artillery and mortar (C-RAM) engine.

Sense, track, predict, warn and engage - the same engine in simulation and live.
SI units inside (metres, seconds, radians, kilograms); degrees only at the edges.
"""

__version__ = "0.1.0"
