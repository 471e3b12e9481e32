// toml++'s implementation, compiled once into our static siax_tomlplusplus (what Debian's
// libtomlplusplus.so holds). Consumers see TOML_HEADER_ONLY=0 (declarations only).
#define TOML_IMPLEMENTATION 1
#include <toml++/toml.h>
