"""Sensing: radar specifications, the plot record, and the radar simulator (truth -> plots)."""
