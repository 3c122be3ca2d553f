"""Tables and pictures people read at a glance."""
