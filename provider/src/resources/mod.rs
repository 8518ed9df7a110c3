pub mod frontend;
pub mod microservice;
pub mod state_backend;
