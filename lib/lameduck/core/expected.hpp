#pragma once

// A value or an error a human can act on. Library functions that can fail return this; each
// tool has one catch at the top for what cannot be handled where it happens.
// (std::expected is C++23; this is the small part of it we need.)

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lameduck {

struct Error {
  std::string message;
};

template <typename E> struct Unexpected {
  E error;
};

inline Unexpected<Error> unexpected(std::string message) {
  return {Error{std::move(message)}};
}

template <typename E> Unexpected<E> unexpected(E error) {
  return {std::move(error)};
}

template <typename T, typename E = Error> class [[nodiscard]] Expected {
public:
  Expected(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
  Expected(Unexpected<E> failure) : m_state(std::in_place_index<1>, std::move(failure.error)) {}

  bool has_value() const { return m_state.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(m_state);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(m_state);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(m_state));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const {
    assert(!has_value());
    return std::get<1>(m_state);
  }

  template <typename U> T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(m_state) : static_cast<T>(std::forward<U>(fallback));
  }

private:
  std::variant<T, E> m_state;
};

// For operations that produce nothing but can fail.
struct Done {};

} // namespace lameduck
