//! Small games implementing [`crate::game::Game`], so that generic code (search, self-play,
//! symmetry augmentation) is exercised on something other than Go.

pub mod connect_four;

pub use connect_four::ConnectFour;
