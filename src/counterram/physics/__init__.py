"""Flight physics: ISA atmosphere, the munition catalog and batched 3-DOF flight."""
