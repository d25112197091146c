"""Domain model and persistence: regions, depots, sites, vehicles, users, plans, sessions."""
