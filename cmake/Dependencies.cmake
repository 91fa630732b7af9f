# Every dependency comes from Debian's packages; ./dev installs them.

find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CLI11 2.1 REQUIRED)

if(LAMEDUCK_STATIC)
  set(OPENSSL_USE_STATIC_LIBS TRUE)
endif()
find_package(OpenSSL 3 REQUIRED)

# Debian's libcpp-httplib-dev is a split shared library; the static tools need the header-only
# httplib.h from Debian's source package (./dev fetches it into .deps/).
find_path(LAMEDUCK_HTTPLIB_HEADER_DIR httplib.h HINTS ${LAMEDUCK_HTTPLIB_INCLUDE_DIR} NO_DEFAULT_PATH)
if(NOT LAMEDUCK_HTTPLIB_HEADER_DIR)
  message(FATAL_ERROR "httplib.h not found: run ./dev deps, or set LAMEDUCK_HTTPLIB_INCLUDE_DIR")
endif()
add_library(lameduck_httplib INTERFACE)
target_include_directories(lameduck_httplib SYSTEM INTERFACE ${LAMEDUCK_HTTPLIB_HEADER_DIR})
target_compile_definitions(lameduck_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
target_link_libraries(lameduck_httplib INTERFACE OpenSSL::SSL OpenSSL::Crypto Threads::Threads ${CMAKE_DL_LIBS})

if(LAMEDUCK_BUILD_TESTS)
  find_package(doctest 2.4 REQUIRED)
endif()
