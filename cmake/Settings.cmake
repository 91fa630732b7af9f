# Compiler settings as INTERFACE targets, linked privately by our own targets only, so that
# third-party headers never see our warning flags.

add_library(lameduck_settings INTERFACE)
target_compile_features(lameduck_settings INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
if(LAMEDUCK_SANITIZE)
  target_compile_options(lameduck_settings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                     -fno-sanitize-recover=undefined)
  target_link_options(lameduck_settings INTERFACE -fsanitize=address,undefined)
  # ASan's instrumentation misleads GCC's flow analysis into false reports inside std::regex
  # and std::function.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(lameduck_settings INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()

# Coverage for libFuzzer on everything, with the sanitizers that turn bugs into crashes.
if(LAMEDUCK_FUZZ)
  target_compile_options(lameduck_settings INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                                     -fno-omit-frame-pointer)
  target_link_options(lameduck_settings INTERFACE -fsanitize=address,undefined)
endif()

add_library(lameduck_warnings INTERFACE)
target_compile_options(lameduck_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                                   -Wno-sign-conversion -Wno-missing-field-initializers -Wnon-virtual-dtor
                                                   -Wold-style-cast -Wimplicit-fallthrough)
# GCC 12 reports -Wrestrict falsely on ordinary std::string appends at -O3 (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(lameduck_warnings INTERFACE -Wno-restrict)
endif()
# Only CI and development builds fail on warnings: a newer compiler must never break a user's build.
if(LAMEDUCK_WERROR)
  target_compile_options(lameduck_warnings INTERFACE -Werror)
endif()

# Each function and object in a section of its own, for the code the static tools are made of,
# so that their link can drop what they never call (--gc-sections below). Not for the tests:
# they would all be compiled again for nothing.
add_library(lameduck_sections INTERFACE)
if(LAMEDUCK_STATIC)
  target_compile_options(lameduck_sections INTERFACE -ffunction-sections -fdata-sections)
endif()

# The shipped tools: fully static and stripped, so that they run in scratch, distroless or
# alpine images with no loader and no libc of their own. --gc-sections drops the parts of our
# code, libstdc++ and libc that a tool never calls: a static executable is loaded whole into
# the page cache, and the pages around every one touched count in its resident memory.
function(lameduck_static_tool target)
  if(LAMEDUCK_STATIC)
    target_link_options(${target} PRIVATE -static $<$<NOT:$<CONFIG:Debug>>:-s> -Wl,--gc-sections)
    target_link_libraries(${target} PRIVATE lameduck_sections)
  endif()
endfunction()
