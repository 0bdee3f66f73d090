// A binary heap for the merge loops of both encoders, which pop the best candidate pair and skip stale ones.
// Deliberately minimal: push, pop, clear.

protocol Prioritized {
    /// True if `self` must come out before `other`.
    func before(_ other: Self) -> Bool
}

struct PriorityQueue<Element: Prioritized> {
    private var heap: [Element] = []

    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        heap.append(element)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].before(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var first = parent
                if left < heap.count && heap[left].before(heap[first]) { first = left }
                if right < heap.count && heap[right].before(heap[first]) { first = right }
                if first == parent { break }
                heap.swapAt(parent, first)
                parent = first
            }
        }
        return top
    }
}
