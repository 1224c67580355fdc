"""Simulated platforms: a deterministic world served over HTTP, for demos, reliability tests
and benchmarks. Shares no code with the clients it tests (DESIGN.md).

    with Simulation(seed=7, n_subreddits=50) as sim:
        env = sim.endpoint_env()          # DFWATCH_ENDPOINT_* -> sim.url
        sim.add_fault(platform="reddit", kind="rate_limit", times=3)
        sim.advance(days=1)
        sim.stats.snapshot()
"""

from crawler.sim.clock import SIM_NOW_HEADER, SimClock
from crawler.sim.faults import Fault, FaultPlan
from crawler.sim.server import Simulation
from crawler.sim.world import World

__all__ = ["SIM_NOW_HEADER", "Fault", "FaultPlan", "SimClock", "Simulation", "World"]
