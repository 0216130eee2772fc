// atomic_counter/format.hpp: ids as strings, for JSON, URLs and browsers (JavaScript numbers are
// exact only below 2^53): fixed-width forms whose lexicographic order is the numeric order, so
// strings sort, compare and index like the ids.
//
//   form      width  alphabet (ascending)                       e.g. for 2^64 - 1
//   base32       13  Crockford: 0-9 A-Z without I L O U           FZZZZZZZZZZZZ
//   base62       11  0-9 A-Z a-z                                  LygHa16AHYF
//   hex          16  0-9 a-f                                      ffffffffffffffff
//   decimal    1-20  0-9 (not fixed-width: for the command line)  18446744073709551615
//
// Parsing takes exactly those widths; base32 also reads lowercase and Crockford's aliases (I and
// L as 1, O as 0), hex reads uppercase. Anything else, and a value above 2^64 - 1, is
// std::invalid_argument naming the form and what it expects.
#ifndef ATOMIC_COUNTER_FORMAT_HPP
#define ATOMIC_COUNTER_FORMAT_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "detail/error.hpp"

namespace atomic_counter {

enum class id_format { base32, base62, hex, decimal };

namespace detail {

inline constexpr char base32_digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
inline constexpr char base62_digits[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
inline constexpr char hex_digits[] = "0123456789abcdef";

inline constexpr std::size_t format_width(id_format form) noexcept {
    return form == id_format::base32 ? 13 : form == id_format::base62 ? 11 : 16;
}

inline constexpr char const* format_name(id_format form) noexcept {
    return form == id_format::base32   ? "base32"
           : form == id_format::base62 ? "base62"
           : form == id_format::hex    ? "hex"
                                       : "decimal";
}

// The value of one character in a form, or -1.
inline constexpr int digit_value(id_format form, char c) noexcept {
    switch (form) {
    case id_format::base32:
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
        if (c == 'I' || c == 'L') {
            return 1;
        }
        if (c == 'O') {
            return 0;
        }
        for (int i = 0; i < 32; ++i) {
            if (base32_digits[i] == c) {
                return i;
            }
        }
        return -1;
    case id_format::base62:
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'A' && c <= 'Z' ? c - 'A' + 10
               : c >= 'a' && c <= 'z' ? c - 'a' + 36
                                      : -1;
    case id_format::hex:
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
    case id_format::decimal:
        return c >= '0' && c <= '9' ? c - '0' : -1;
    }
    return -1;
}

[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void
on_bad_id_text(id_format form, std::string_view text, char const* why) {
    std::string shown(text.substr(0, 40));
    if (text.size() > 40) {
        shown += "...";
    }
    static constexpr char const* expects[] = {
        "13 characters of 0-9 A-Z without I L O U (Crockford base32)",
        "11 characters of 0-9 A-Z a-z", "16 characters of 0-9 a-f", "1 to 20 digits"};
    on_error_invalid_argument("atomic_counter::parse_id: '" + shown + "' is not a " +
                              format_name(form) + " id (" + why + "): expected " +
                              expects[static_cast<int>(form)] + ", for a value in [0, 2**64 - 1]");
}

}  // namespace detail

// The id as a string of the form: fixed width (zeros in front) for base32, base62 and hex.
inline std::string format_id(std::uint64_t value, id_format form) {
    if (form == id_format::decimal) {
        return std::to_string(value);
    }
    const std::size_t width = detail::format_width(form);
    std::string text(width, '0');
    const std::uint64_t radix = form == id_format::base32   ? 32
                                : form == id_format::base62 ? 62
                                                            : 16;
    char const* digits = form == id_format::base32   ? detail::base32_digits
                         : form == id_format::base62 ? detail::base62_digits
                                                     : detail::hex_digits;
    for (std::size_t i = width; i-- > 0 && value != 0;) {
        text[i] = digits[value % radix];
        value /= radix;
    }
    return text;
}

// The id a string of the form holds. Throws std::invalid_argument for a wrong width, a character
// outside the form's alphabet, or a value above 2^64 - 1.
inline std::uint64_t parse_id(std::string_view text, id_format form) {
    const std::size_t width = detail::format_width(form);
    if (form == id_format::decimal ? text.empty() || text.size() > 20 : text.size() != width) {
        detail::on_bad_id_text(form, text, "wrong length");
    }
    const std::uint64_t radix = form == id_format::base32   ? 32
                                : form == id_format::base62 ? 62
                                : form == id_format::hex    ? 16
                                                            : 10;
    std::uint64_t value = 0;
    for (char c : text) {
        const int digit = detail::digit_value(form, c);
        if (digit < 0) {
            detail::on_bad_id_text(form, text, "a character outside the alphabet");
        }
        const auto d = static_cast<std::uint64_t>(digit);
        if (value > (~std::uint64_t{0} - d) / radix) {
            detail::on_bad_id_text(form, text, "above 2**64 - 1");
        }
        value = value * radix + d;
    }
    return value;
}

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_FORMAT_HPP
