// Seeds for the core's random source, drawn from the operating system.
#pragma once

#include <cstdint>

namespace relay::util {

std::uint64_t os_seed();

}  // namespace relay::util
