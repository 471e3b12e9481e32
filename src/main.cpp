// siax-agent: the command line (src/cli/cli.h); `serve` runs the agent (src/app/agent.h).
#include "cli/cli.h"

int main(int argc, char** argv) { return siax::cli::run(argc, argv); }
