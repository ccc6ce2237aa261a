use clap::Parser;

fn main() {
    let cli = vigie::cli::Cli::parse();
    match vigie::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("vigie: {e:#}");
            std::process::exit(2);
        }
    }
}
