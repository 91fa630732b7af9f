#pragma once

// A certificate authority and a server certificate for 127.0.0.1, ::1 and localhost, made
// with the openssl command once per test process, so that TLS in tests is verified for real.

#include <string>

namespace lameduck::test {

struct TestCertificates {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

const TestCertificates& test_certificates();

} // namespace lameduck::test
