// greenlet.h from C++ (run by tests/c_examples.rs): an RAII owner of a
// greenlet_stack, a context entered through the C interface, and values
// passed both ways. Prints "c++ ok <sum>" and exits 0.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "greenlet.h"

namespace {

class Stack {
  public:
    explicit Stack(std::size_t size) : ok_(greenlet_stack_create(&stack_, size) == 0) {}
    ~Stack() {
        if (ok_)
            greenlet_stack_free(&stack_);
    }
    Stack(const Stack &) = delete;
    Stack &operator=(const Stack &) = delete;
    bool ok() const { return ok_; }
    const greenlet_stack *get() const { return &stack_; }

  private:
    greenlet_stack stack_;
    bool ok_;
};

extern "C" void squares(void *from, std::uintptr_t data) {
    for (;;) {
        greenlet_transfer t = greenlet_switch(from, data * data);
        from = t.sp;
        data = t.data;
    }
}

} // namespace

int main() {
    Stack stack(64 * 1024);
    if (!stack.ok())
        return 1;
    void *ctx = greenlet_context_init(stack.get(), squares);
    std::uintptr_t sum = 0;
    for (std::uintptr_t i = 1; i <= 10; i++) {
        greenlet_transfer t = greenlet_switch(ctx, i);
        ctx = t.sp;
        sum += t.data;
    }
    std::printf("c++ ok %lu\n", static_cast<unsigned long>(sum));
    return sum == 385 ? 0 : 1;
}
