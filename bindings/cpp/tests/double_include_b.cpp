// See double_include_a.cpp.
#include <mongoelector.hpp>
#include <mongoelector.hpp>

#include <string>

std::string double_include_b() {
    me_current_lock c{};
    c.key = "from b";
    return mongoelector::version() + "|" + mongoelector::detail::convert(c).key;
}
