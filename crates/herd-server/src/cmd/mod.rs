//! One module per command, as the server answers it.

pub mod at;
pub mod faulty;
pub mod iamat;
pub mod whatsat;
