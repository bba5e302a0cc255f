"""Controllers: level-triggered loops that move the cluster towards what its objects ask for."""
