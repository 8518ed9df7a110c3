pub mod organization;
pub mod state_backend;
