//! Integration tests of kaimeng-consensus: the codec (round trips and fuzzing), the engine
//! driven by hand (bad input, persistence, epochs), and the deterministic simulation.

mod codec;
mod engine;
mod engine_fuzz;
mod fuzz;
mod sim_scenarios;
mod sim_seeds;
mod support;
