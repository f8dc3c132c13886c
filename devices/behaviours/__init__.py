"""Pure, sans-IO device behaviours (load, maximum demand, display) with dict state."""
