pub mod organization;
pub mod environment;
pub mod state_backend;
