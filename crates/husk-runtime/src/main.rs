fn main() { println!("husk-runtime version {}", husk_core::VERSION); }
