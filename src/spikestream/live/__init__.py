"""Live inference: event sources (files, DV TCP, SPIF UDP, cameras), a replay server, and a
stateful streaming engine that runs a trained checkpoint bin by bin. Never imports the trainer."""
